"""Realistic texts from the markets smsc serves (lengths checked by hand, see sms-encoding.md)."""

HE_PROMO = "שלום דנה, מבצע סוף עונה! 30% הנחה על כל הקולקציה עד יום שישי בחנויות ובאתר. להסרה השב הסר"
HE_SHORT = "שלום דנה, התור שלך מחר ב-10:00. להסרה השב הסר"
UK_PROMO = (
    "Олено, лише до неділі знижка 20% на всі сукні та взуття в наших магазинах. "
    "Відмова від розсилки: СТОП"
)
ZH_PROMO = "【优选商城】尊敬的王先生，您的会员积分即将到期，请于本月底前兑换礼品。退订回T"
VI_DIACRITICS = (
    "[QC] Chào chị Lan, ưu đãi đặc biệt: giảm 30% cho tất cả sản phẩm đến hết Chủ nhật. "
    "Từ chối nhận tin nhắn, soạn TC gửi 9029"
)
VI_PLAIN = (
    "[QC] Chao chi Lan, uu dai dac biet: giam 30% cho tat ca san pham den het Chu nhat. "
    "Tu choi nhan tin nhan, soan TC gui 9029"
)
ES_PROMO = (
    "¡Hola María! Este fin de semana tenemos descuentos de hasta el 50% en toda la tienda. "
    "Válido sólo en línea. Responde BAJA para no recibir más"
)
TR_PROMO = (
    "Sayın Ayşe Hanım, İstanbul mağazamızda bu hafta sonu tüm ürünlerde %30 indirim sizi "
    "bekliyor. Görüşmek üzere! İptal için RET yazıp gönderin"
)
EN_CURLY = "We’re open “late” today – come by before 9pm… Reply STOP to opt out of these texts"
EN_PLAIN_152 = ("Your appointment with Dr. Smith is confirmed for Monday 14 March at 10:30. "
                "Please arrive 10 minutes early. Reply C to confirm or R to reschedule. Thanks")
